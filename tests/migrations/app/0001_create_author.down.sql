DROP TABLE mig_author;
