CREATE TABLE setup_player (
    id BIGINT AUTO_INCREMENT PRIMARY KEY,
    team BIGINT NOT NULL,
    name VARCHAR(50) NOT NULL,
    FOREIGN KEY (team) REFERENCES setup_team (id)
);
