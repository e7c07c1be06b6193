CREATE TABLE mig_book (
    id INTEGER PRIMARY KEY,
    author INTEGER NOT NULL REFERENCES mig_author (id),
    title VARCHAR(200) NOT NULL
);
