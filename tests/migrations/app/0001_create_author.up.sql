-- Authors; a comment with a ; in it.
CREATE TABLE mig_author (
    id INTEGER PRIMARY KEY,
    name VARCHAR(100) NOT NULL DEFAULT 'anon; unnamed'
);

CREATE INDEX mig_author_name ON mig_author (name);
