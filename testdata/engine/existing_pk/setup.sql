-- A composite primary key serves equality on its columns, and on its leading column alone.
CREATE TABLE ledger (account_id int NOT NULL, seq int NOT NULL, amount numeric NOT NULL, PRIMARY KEY (account_id, seq));
INSERT INTO ledger SELECT g % 5000, g / 5000, g % 1000 FROM generate_series(1, 200000) g;
