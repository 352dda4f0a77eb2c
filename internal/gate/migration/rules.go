package migration

import "sort"

// Rule is one check: what it flags, why that is unsafe for a release, and
// the safe way to write the same change. Most ids are squawk's
// (https://squawkhq.com/docs/rules), so their documentation applies too.
type Rule struct {
	ID          string   `json:"id"`
	Class       Class    `json:"class"`
	Severity    Severity `json:"severity"`
	What        string   `json:"what"`
	Explanation string   `json:"explanation"`
	Rewrite     string   `json:"rewrite"`
}

// Rule ids.
const (
	BanDropColumn                  = "ban-drop-column"
	BanDropTable                   = "ban-drop-table"
	BanDropDatabase                = "ban-drop-database"
	BanTruncateCascade             = "ban-truncate-cascade"
	RenamingColumn                 = "renaming-column"
	RenamingTable                  = "renaming-table"
	ChangingColumnType             = "changing-column-type"
	BanDropNotNull                 = "ban-drop-not-null"
	AddingRequiredField            = "adding-required-field"
	AddingNotNullableField         = "adding-not-nullable-field"
	AddingFieldWithDefault         = "adding-field-with-default"
	RequireConcurrentIndexCreation = "require-concurrent-index-creation"
	RequireConcurrentIndexDeletion = "require-concurrent-index-deletion"
	ConstraintMissingNotValid      = "constraint-missing-not-valid"
	AddingForeignKeyConstraint     = "adding-foreign-key-constraint"
	DisallowedUniqueConstraint     = "disallowed-unique-constraint"
	AddingSerialPrimaryKeyField    = "adding-serial-primary-key-field"
	RequireLockTimeout             = "require-lock-timeout"
	UnbatchedDataChange            = "unbatched-data-change"
)

// contract, hazard and dataDependent build rules of a class with the
// severity the class carries.
func contract(id, what, why, rewrite string) Rule {
	return Rule{id, Contract, Error, what, why, rewrite}
}

func hazard(id, what, why, rewrite string) Rule {
	return Rule{id, LockHazard, Error, what, why, rewrite}
}

func dataDependent(id, what, why, rewrite string) Rule {
	return Rule{id, DataDependent, Warning, what, why, rewrite}
}

var rules = map[string]Rule{}

func init() {
	for _, r := range []Rule{
		contract(BanDropColumn, "ALTER TABLE … DROP COLUMN",
			"The previous version still reads and writes the column; once it is dropped, that version fails, and a rollback lands on a schema it cannot use.",
			"Stop reading and writing the column in one release (leave it, nullable, in place); drop it in a later release, declared contract, once no running or rollback-target version uses it."),
		contract(BanDropTable, "DROP TABLE",
			"The previous version still uses the table; once it is dropped, that version fails, and its data cannot be brought back by a rollback.",
			"Stop using the table in one release; drop it in a later release, declared contract, after a backup, once no running or rollback-target version uses it."),
		contract(BanDropDatabase, "DROP DATABASE",
			"Every client of the database breaks, and its data is gone.",
			"Do not drop databases in an application migration; retire a database by hand, after a backup."),
		contract(BanTruncateCascade, "TRUNCATE … CASCADE",
			"CASCADE also empties every table that references these tables by a foreign key, recursively: data that no rollback brings back.",
			"Name every table to empty, without CASCADE: TRUNCATE a, b;"),
		contract(RenamingColumn, "ALTER TABLE … RENAME COLUMN",
			"The previous version queries the column by its old name and fails once it is renamed.",
			"Keep the column's name and rename the field in the application only; or add the new column, keep both in step with a trigger, backfill, move reads and writes, and drop the old column in a later contract release."),
		contract(RenamingTable, "ALTER TABLE … RENAME TO",
			"The previous version queries the table by its old name and fails once it is renamed.",
			"Keep the table's name and rename it in the application only; or create a view with the new name (CREATE VIEW new AS SELECT * FROM old), move the application to it, then drop the view and rename the table in a later contract release."),
		contract(ChangingColumnType, "ALTER TABLE … ALTER COLUMN … TYPE",
			"Changing a column's type rewrites the table under an ACCESS EXCLUSIVE lock (reads and writes wait), and the previous version may not read or write the new type.",
			"Add a column of the new type, keep it in step with a trigger, backfill it in batches, move reads and writes to it, and drop the old column in a later contract release. (VARCHAR to TEXT, or to a longer VARCHAR, needs no rewrite: mark such a statement with belay:ignore.)"),
		contract(BanDropNotNull, "ALTER TABLE … ALTER COLUMN … DROP NOT NULL",
			"The previous version relies on the column never being NULL; rows the new version writes with NULL break it on rollback.",
			"Keep NOT NULL and write a marker value that stands for \"none\"; or move to a new nullable table behind a view."),
		contract(AddingRequiredField, "ALTER TABLE … ADD COLUMN … NOT NULL without a DEFAULT",
			"The statement fails on a table that has rows, and the previous version's INSERTs, which do not name the new column, fail once it exists.",
			"Add the column nullable, or NOT NULL with a non-volatile DEFAULT (ADD COLUMN c boolean NOT NULL DEFAULT false)."),
		hazard(AddingNotNullableField, "ALTER TABLE … ALTER COLUMN … SET NOT NULL",
			"SET NOT NULL scans the whole table under an ACCESS EXCLUSIVE lock (reads and writes wait), and fails if any row is NULL.",
			"ADD CONSTRAINT c CHECK (col IS NOT NULL) NOT VALID; backfill; VALIDATE CONSTRAINT c in a separate transaction; then SET NOT NULL, which PostgreSQL 12+ proves from the validated check without a scan."),
		hazard(AddingFieldWithDefault, "ALTER TABLE … ADD COLUMN with a volatile DEFAULT, or a generated or identity column",
			"A value must be computed for every existing row, so the table is rewritten under an ACCESS EXCLUSIVE lock (reads and writes wait). A non-volatile default (a constant, now(), current_timestamp) is stored once instead, from PostgreSQL 11 on.",
			"Add the column nullable, SET DEFAULT for new rows, backfill existing rows in batches, then make it NOT NULL through a validated CHECK constraint; for a generated column, fill it from a trigger instead."),
		hazard(RequireConcurrentIndexCreation, "CREATE INDEX without CONCURRENTLY on an existing table",
			"A plain CREATE INDEX blocks writes to the table for as long as the index takes to build.",
			"CREATE INDEX CONCURRENTLY, outside a transaction block. (Indexes on a table created earlier in the same transaction are not flagged.)"),
		hazard(RequireConcurrentIndexDeletion, "DROP INDEX without CONCURRENTLY",
			"A plain DROP INDEX takes an ACCESS EXCLUSIVE lock on the table: reads and writes wait until it is done.",
			"DROP INDEX CONCURRENTLY, outside a transaction block."),
		hazard(ConstraintMissingNotValid, "ALTER TABLE … ADD CONSTRAINT without NOT VALID on an existing table, or VALIDATE in the transaction that added it NOT VALID",
			"A new constraint is checked against every row while writes to the table are blocked.",
			"ADD CONSTRAINT … NOT VALID (only new rows are checked, the lock is brief), then VALIDATE CONSTRAINT in a separate transaction, which scans without blocking writes."),
		hazard(AddingForeignKeyConstraint, "a FOREIGN KEY or REFERENCES added to an existing table without NOT VALID",
			"Adding a foreign key scans the table under a SHARE ROW EXCLUSIVE lock on both tables, which blocks writes to each.",
			"ADD CONSTRAINT fk FOREIGN KEY (…) REFERENCES … NOT VALID; then VALIDATE CONSTRAINT fk in a separate transaction. A column is best added first and given its foreign key in that second step."),
		hazard(DisallowedUniqueConstraint, "a UNIQUE constraint added to an existing table without USING INDEX",
			"Adding a UNIQUE constraint builds its index under an ACCESS EXCLUSIVE lock: reads and writes wait for the whole build.",
			"CREATE UNIQUE INDEX CONCURRENTLY i ON t (col); then ALTER TABLE t ADD CONSTRAINT c UNIQUE USING INDEX i."),
		hazard(AddingSerialPrimaryKeyField, "a PRIMARY KEY added to an existing table without USING INDEX",
			"Adding a primary key builds its index under an ACCESS EXCLUSIVE lock: reads and writes wait for the whole build.",
			"CREATE UNIQUE INDEX CONCURRENTLY i ON t (id); then ALTER TABLE t ADD CONSTRAINT t_pk PRIMARY KEY USING INDEX i."),
		hazard(RequireLockTimeout, "a statement that takes a lock, in a file that has not SET lock_timeout before it (reported once per file)",
			"A statement waiting for its lock behind a long query makes every later query on the table wait behind it: the application stalls for as long as the wait lasts.",
			"SET lock_timeout = '1s'; at the top of the file, and retry the migration when it times out. (If the connection already sets lock_timeout, mark the statement with belay:ignore.)"),
		dataDependent(UnbatchedDataChange, "UPDATE or DELETE without WHERE",
			"It touches every row in one transaction: how long it runs, how many row locks it holds and how much it writes depend on the table's size, which the check cannot see.",
			"Backfill or delete in batches (by key range), each batch its own transaction, outside the schema migration."),
	} {
		rules[r.ID] = r
	}
}

// Rules lists every rule, ordered by id.
func Rules() []Rule {
	out := make([]Rule, 0, len(rules))
	for _, r := range rules {
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}
