-- ALTER SYSTEM settings from pgtune VERSION
--   pgtune config --memory 64GB --cpus 16 --profile oltp --storage nvme --pg-version 16 --pooler --app-instances 20 --app-pool-size 25 --pooler-processes 2 --format sql
-- Sized for: 64 GB RAM, 16 CPU(s), nvme storage, oltp profile, PostgreSQL 16 on linux, PgBouncer in front.
-- Run as a superuser with psql; ALTER SYSTEM cannot run inside a transaction block.
--
-- Connection budget: 52 needed, max_connections = 55
--   PgBouncer pools                                 40  1 host(s) × 2 process(es) × 1 pool(s) × (16 pool + 4 reserve)
--   migrations (pgtune migrate)                      2  the migration and its advisory-lock session
--   maintenance (pgtune maintain run)                3  two VACUUM jobs and the runner's lock session
--   monitoring (exporter, pgtune advise)             3  a metrics exporter, pgtune and one spare
--   backup control (pgBackRest, pg_basebackup)       1  start/stop backup; WAL streaming uses max_wal_senders
--   superuser reserve                                3  superuser_reserved_connections: the DBA's way in when the rest are taken
--
-- Memory budget: worst case 29.5 GB of the 57.6 GB available (64 GB RAM less the OS's headroom)
--   shared_buffers + wal_buffers     16.1 GB  allocated at start
--   backends' private memory          284 MB  71 backends (max_connections 55 + 16 parallel workers) × 4 MB
--   sorts and hashes                  6.7 GB  71 backends × (1 × work_mem + 1 × work_mem × hash_mem_multiplier 2), work_mem 32MB
--   autovacuum workers                2.5 GB  5 × (autovacuum_work_mem 512MB + 4 MB)
--   maintenance sessions                4 GB  2 × maintenance_work_mem 2GB (an index build and a manual VACUUM)
--
-- Huge pages: reserve 8422 pages of 2 MB (vm.nr_hugepages = 8422 in /etc/sysctl.d/) for about 16.4 GB of shared memory
--   exact figure, with the server stopped: postgres -D "$PGDATA" -C shared_memory_size_in_huge_pages
--

-- the connection budget: 52 needed (application or pools, direct connections and the superuser reserve), rounded up
ALTER SYSTEM SET max_connections = 55;

-- a quarter of the RAM: the OS page cache holds the rest of the hot data
ALTER SYSTEM SET shared_buffers = '16GB';

-- 16.4 GB of shared memory: reserve 8422 huge pages (vm.nr_hugepages) so the buffer mapping uses them; try falls back if they are missing
ALTER SYSTEM SET huge_pages = 'try';

-- shared_buffers plus the page cache the OS will keep: a planner estimate, nothing is allocated
ALTER SYSTEM SET effective_cache_size = '48GB';

-- the oltp profile's ceiling; the worst case (71 backends × 1 sort + 1 hash nodes) still fits
ALTER SYSTEM SET work_mem = '32MB';

-- hash nodes may use 2 × work_mem before spilling (15's default, spelled out); counted in the memory budget
ALTER SYSTEM SET hash_mem_multiplier = 2;

-- RAM/16 (at most 2GB): faster index builds and VACUUM; counted twice in the memory budget
ALTER SYSTEM SET maintenance_work_mem = '2GB';

-- per autovacuum worker, 5 of them: bounds their memory separately from manual maintenance (512MB holds ~89M dead tuples per pass before 17)
ALTER SYSTEM SET autovacuum_work_mem = '512MB';

-- many cores writing at once: fewer waits to insert WAL
ALTER SYSTEM SET wal_buffers = '64MB';

-- a quarter of max_wal_size: recycled segments absorb bursts without new files
ALTER SYSTEM SET min_wal_size = '4GB';

-- checkpoints by time, not by WAL volume, for a oltp workload; keep this much free on the WAL disk
ALTER SYSTEM SET max_wal_size = '16GB';

-- fewer checkpoints, fewer full-page images in the WAL; crash recovery stays within minutes
ALTER SYSTEM SET checkpoint_timeout = '15min';

-- spread checkpoint writes over 90 % of the interval
ALTER SYSTEM SET checkpoint_completion_target = 0.9;

-- compress full-page images: less WAL and replication traffic for little CPU (needs a build with lz4, as Debian, PGDG and the official images have)
ALTER SYSTEM SET wal_compression = 'lz4';

-- nvme storage: random reads cost about as much as sequential ones, so index scans are priced fairly
ALTER SYSTEM SET random_page_cost = 1.1;

-- nvme storage serves many reads at once: bitmap heap scans read ahead
ALTER SYSTEM SET effective_io_concurrency = 1000;

-- the same read-ahead for VACUUM and index builds
ALTER SYSTEM SET maintenance_io_concurrency = 1000;

-- short queries pay JIT compilation's milliseconds and gain nothing
ALTER SYSTEM SET jit = 'off';

-- the parallel workers plus 4 for logical replication, pg_cron and other extensions' workers (at least PostgreSQL's 8)
ALTER SYSTEM SET max_worker_processes = 20;

-- one per CPU; counted as backends in the memory budget
ALTER SYSTEM SET max_parallel_workers = 16;

-- half the CPUs, at most 2: short queries gain little and each worker sorts with its own work_mem
ALTER SYSTEM SET max_parallel_workers_per_gather = 2;

-- half the CPUs, at most 4: parallel index builds and VACUUM of indexes; they share maintenance_work_mem
ALTER SYSTEM SET max_parallel_maintenance_workers = 4;

-- 16 CPUs: more tables vacuumed at once so one large table does not hold up the rest; the cost limit is shared among them
ALTER SYSTEM SET autovacuum_max_workers = 5;

-- solid-state storage absorbs vacuum I/O: 10 × the default, so vacuum keeps up with a busy database
ALTER SYSTEM SET autovacuum_vacuum_cost_limit = 2000;

-- vacuum after 5 % of a table changed, not 20 %: large tables otherwise wait for millions of dead rows
ALTER SYSTEM SET autovacuum_vacuum_scale_factor = 0.05;

-- analyze after 2 % changed: large tables' statistics stay fresh enough for the planner
ALTER SYSTEM SET autovacuum_analyze_scale_factor = 0.02;

-- insert-only tables get vacuumed (visibility map, freezing) after 5 % new rows
ALTER SYSTEM SET autovacuum_vacuum_insert_scale_factor = 0.05;

-- statement statistics pgtune advise reads; keep any library you already preload in the list
ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements';

-- room for every distinct statement of a busy app without evictions
ALTER SYSTEM SET pg_stat_statements.max = 10000;

-- whole statement texts in pg_stat_activity (1kB cuts most ORM queries), which pgtune samples for constants
ALTER SYSTEM SET track_activity_query_size = '4kB';

-- I/O time per statement and table; cheap on modern clocks (check with pg_test_timing)
ALTER SYSTEM SET track_io_timing = 'on';

-- log statements slower than this for a oltp workload
ALTER SYSTEM SET log_min_duration_statement = '500ms';

-- log autovacuum runs over 10 s: which tables vacuum struggles with
ALTER SYSTEM SET log_autovacuum_min_duration = '10s';

-- checkpoint frequency and duration: evidence for max_wal_size
ALTER SYSTEM SET log_checkpoints = 'on';

-- log waits longer than deadlock_timeout (1 s): evidence of lock contention
ALTER SYSTEM SET log_lock_waits = 'on';

-- log temporary files over 10MB: evidence that work_mem is too small for a query
ALTER SYSTEM SET log_temp_files = '10MB';

SELECT pg_reload_conf();
-- These take effect only after a restart: max_connections, shared_buffers, huge_pages, wal_buffers, max_worker_processes, autovacuum_max_workers, shared_preload_libraries, pg_stat_statements.max, track_activity_query_size.
