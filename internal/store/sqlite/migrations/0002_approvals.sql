-- Approvals of a release per environment (production may require one).
CREATE TABLE approvals (
	release_id INTEGER NOT NULL REFERENCES releases (id),
	environment TEXT NOT NULL,
	actor TEXT NOT NULL,
	reason TEXT NOT NULL,
	at TEXT NOT NULL,
	PRIMARY KEY (release_id, environment, actor)
);
