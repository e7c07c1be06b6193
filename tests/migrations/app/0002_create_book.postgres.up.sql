-- PostgreSQL's own file: tags as an array, and the jsonb `?` operator
-- written as it is (scripts take no placeholders).
CREATE TABLE mig_book (
    id INTEGER PRIMARY KEY,
    author INTEGER NOT NULL REFERENCES mig_author (id),
    title VARCHAR(200) NOT NULL,
    tags TEXT[] NOT NULL DEFAULT '{}',
    extra JSONB NOT NULL DEFAULT '{}' CHECK (NOT (extra ? 'forbidden'))
);
