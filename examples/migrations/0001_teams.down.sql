DROP TABLE setup_team;
