# Synthetic pg_stat_statements export for the offline-advice benchmark (docs/BENCHMARKS.md):
# python3 statements_csv.py COLUMNS STATEMENTS writes schema.sql and stmts.csv in the current directory.
import csv, random, sys
random.seed(1)
ncols = int(sys.argv[1]); nstmts = int(sys.argv[2])
cols = [f"c{i}" for i in range(ncols)]
with open("schema.sql","w") as f:
    f.write("CREATE TABLE public.wide (id bigint PRIMARY KEY, " + ", ".join(f"{c} integer" for c in cols) + ");\n")
with open("stmts.csv","w",newline="") as f:
    w = csv.writer(f)
    w.writerow(["userid","dbid","toplevel","queryid","query","calls","total_exec_time","mean_exec_time","rows"])
    for i in range(nstmts):
        k = random.randint(1, 6)
        where = random.sample(cols, k)
        sel = random.sample(cols, random.randint(5, 40))
        q = "SELECT " + ", ".join(sel) + " FROM wide WHERE " + " AND ".join(f"{c} = ${j+1}" for j, c in enumerate(where)) + f" ORDER BY {random.choice(cols)} LIMIT {random.randint(1,100)}"
        w.writerow([10, 16384, "t", i, q, random.randint(1, 100000), random.uniform(1, 1e5), 1.0, 10])
