-- belay ci runs: a stage's steps run on a commit, with the evidence bundle
-- (JSON) a release of that commit shows and is judged by.
CREATE TABLE ci_runs (
	id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	commit_sha TEXT NOT NULL,
	stage TEXT NOT NULL,
	status TEXT NOT NULL CHECK (status IN ('passed', 'blocked', 'promotion_blocked')),
	evidence JSON NOT NULL,
	created_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX ci_runs_commit ON ci_runs (commit_sha, id);
