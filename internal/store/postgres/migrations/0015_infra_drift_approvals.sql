-- Drift and approvals of infrastructure (issue 16): per resource, the drift
-- found by the last recorded check (JSON, empty when none) and the hash of
-- the drift an operator acknowledged (the release path's infrastructure
-- check lets acknowledged drift through until it changes again); per plan,
-- the approvers so far (JSON array) when the environment's protection asks
-- for more than one approval.
ALTER TABLE infra_resources ADD COLUMN drift TEXT;
ALTER TABLE infra_resources ADD COLUMN drift_ack TEXT NOT NULL DEFAULT '';
ALTER TABLE infra_plans ADD COLUMN approvals TEXT NOT NULL DEFAULT '[]';
