-- belay ci runs: a stage's steps run on a commit, with the evidence bundle
-- (JSON) a release of that commit shows and is judged by.
CREATE TABLE ci_runs (
	id INTEGER PRIMARY KEY AUTOINCREMENT,
	commit_sha TEXT NOT NULL,
	stage TEXT NOT NULL,
	status TEXT NOT NULL CHECK (status IN ('passed', 'blocked', 'promotion_blocked')),
	evidence TEXT NOT NULL,
	created_at TEXT NOT NULL
);
CREATE INDEX ci_runs_commit ON ci_runs (commit_sha, id);
