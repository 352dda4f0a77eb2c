-- The audit log as a Merkle log (internal/audit). leaf is the entry's leaf
-- hash, written with it; NULL only on entries appended before this
-- migration, which SealAudit fills in while no checkpoint is stored yet.
-- IDs are now assigned under the audit lock as the largest plus one, so they
-- never skip: a gap is a deleted entry.
ALTER TABLE audit_entries ADD COLUMN leaf BLOB CHECK (leaf IS NULL OR length(leaf) = 32);
-- Checkpoints the server signed: the tree's size and root, and the signed note.
CREATE TABLE audit_checkpoints (
	id INTEGER PRIMARY KEY AUTOINCREMENT,
	size INTEGER NOT NULL,
	root BLOB NOT NULL CHECK (length(root) = 32),
	note TEXT NOT NULL,
	at TEXT NOT NULL
);
