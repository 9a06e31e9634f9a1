// client: the cluster tests' and benchmark's dqlite client, built offline
// from Debian's go-dqlite packages (GO111MODULE=off, GOPATH=/usr/share/gocode).
//
//	client -s ADDR[,ADDR...] [-db NAME] [-timeout S] [-retry] COMMAND ARGS
//
// Commands:
//
//	leader             waits until the nodes agree on a leader; prints its address
//	cluster            prints the cluster's nodes: ID|ADDRESS|ROLE
//	add ID ADDRESS     adds the node ID (already running on ADDRESS) as a voter
//	tx SQL...          runs each statement in its own transaction (BEGIN, the
//	                   statement, COMMIT), printing its rows; the way to run a
//	                   SELECT of a function that writes, as the dqlite shell does
//	query SQL...       runs each statement on its own, printing its rows (reads)
//	exec SQL...        runs each statement with Exec (no rows come back)
//	dump ADDRESS DIR   copies the database (and its WAL) as that node, leader
//	                   or follower, holds it into DIR, for reading with SQLite
//
// Rows print one a line as JSON arrays, BLOBs as hex strings. A failed tx
// statement is run once more through Exec, rolled back, for its message
// (see explain). With -retry a failed statement is tried again (from a new
// connection, whichever node leads then) until -timeout runs out: the
// failover measurement. -elapsed prints each statement's seconds to stderr.
// Errors go to stderr with the server's message; the exit status is 1.
package main

import (
	"context"
	"database/sql"
	sqldriver "database/sql/driver"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io/ioutil"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/canonical/go-dqlite/client"
	"github.com/canonical/go-dqlite/driver"
)

var (
	servers = flag.String("s", "", "comma-separated addresses of the cluster's nodes")
	dbName  = flag.String("db", "llm.db", "database name")
	timeout = flag.Float64("timeout", 60, "seconds before giving up")
	retry   = flag.Bool("retry", false, "retry a failed statement until the timeout")
	elapsed = flag.Bool("elapsed", false, "print each statement's seconds to stderr")
)

func store() client.NodeStore {
	var infos []client.NodeInfo
	for _, a := range strings.Split(*servers, ",") {
		if a != "" {
			infos = append(infos, client.NodeInfo{Address: a})
		}
	}
	s := client.NewInmemNodeStore()
	s.Set(context.Background(), infos)
	return s
}

func fail(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "client: "+format+"\n", args...)
	os.Exit(1)
}

// leader polls the nodes until one answers as the leader, or the deadline.
func leader(ctx context.Context) (*client.Client, string) {
	quiet := client.WithLogFunc(func(client.LogLevel, string, ...interface{}) {})
	for {
		attempt, cancel := context.WithTimeout(ctx, time.Second)
		cli, err := client.FindLeader(attempt, store(), quiet)
		cancel()
		if err == nil {
			info, err := cli.Leader(ctx)
			if err == nil && info != nil && info.Address != "" {
				return cli, info.Address
			}
			cli.Close()
		}
		select {
		case <-ctx.Done():
			fail("no leader among %s within %gs (last error: %v)", *servers, *timeout, err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func printRows(rows *sql.Rows) error {
	cols, err := rows.Columns()
	if err != nil {
		return err
	}
	vals := make([]interface{}, len(cols))
	ptrs := make([]interface{}, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return err
		}
		for i, v := range vals {
			if b, ok := v.([]byte); ok {
				vals[i] = hex.EncodeToString(b)
			}
		}
		line, err := json.Marshal(vals)
		if err != nil {
			return err
		}
		fmt.Println(string(line))
	}
	return rows.Err()
}

// run executes one statement as mode says, on a fresh connection.
func run(ctx context.Context, mode, stmt string) error {
	drv, err := driver.New(store(), driver.WithLogFunc(func(client.LogLevel, string, ...interface{}) {}),
		driver.WithContext(ctx), driver.WithConnectionTimeout(2*time.Second))
	if err != nil {
		return err
	}
	db := sql.OpenDB(connector{drv})
	defer db.Close()
	switch mode {
	case "exec":
		_, err = db.ExecContext(ctx, stmt)
		return err
	case "query":
		rows, err := db.QueryContext(ctx, stmt)
		if err != nil {
			return err
		}
		defer rows.Close()
		return printRows(rows)
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	rows, err := tx.QueryContext(ctx, stmt)
	if err == nil {
		err = printRows(rows)
		rows.Close()
	}
	if err != nil {
		tx.Rollback()
		return explain(ctx, db, stmt, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// explain recovers the message of a query's error, which dqlite 1.11
// loses: it appends the failure to a response already holding the column
// names, so the client reads the first column's name as the message. The
// statement runs again in a transaction that is rolled back, through Exec,
// whose failure response is whole; its first step fails the same way.
func explain(ctx context.Context, db *sql.DB, stmt string, queryErr error) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return queryErr
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, stmt); err != nil && !strings.Contains(err.Error(), "another row available") {
		return err
	}
	return queryErr
}

// connector opens the named database through the driver.
type connector struct{ drv *driver.Driver }

func (c connector) Connect(ctx context.Context) (sqldriver.Conn, error) { return c.drv.Open(*dbName) }
func (c connector) Driver() sqldriver.Driver                            { return c.drv }

func main() {
	flag.Parse()
	args := flag.Args()
	if *servers == "" || len(args) == 0 {
		fail("usage: client -s ADDR[,ADDR...] [-db NAME] [-timeout S] [-retry] [-elapsed] COMMAND ARGS")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(*timeout*float64(time.Second)))
	defer cancel()
	switch args[0] {
	case "leader":
		cli, addr := leader(ctx)
		cli.Close()
		fmt.Println(addr)
	case "cluster":
		cli, _ := leader(ctx)
		defer cli.Close()
		nodes, err := cli.Cluster(ctx)
		if err != nil {
			fail("cluster: %v", err)
		}
		for _, n := range nodes {
			fmt.Printf("%d|%s|%s\n", n.ID, n.Address, n.Role)
		}
	case "add":
		if len(args) != 3 {
			fail("usage: add ID ADDRESS")
		}
		id, err := strconv.ParseUint(args[1], 10, 64)
		if err != nil {
			fail("add: bad node id %q", args[1])
		}
		cli, _ := leader(ctx)
		defer cli.Close()
		if err := cli.Add(ctx, client.NodeInfo{ID: id, Address: args[2], Role: client.Voter}); err != nil {
			fail("add node %d (%s): %v", id, args[2], err)
		}
	case "dump":
		if len(args) != 3 {
			fail("usage: dump ADDRESS DIR")
		}
		cli, err := client.New(ctx, args[1])
		if err != nil {
			fail("dump: cannot reach %s: %v", args[1], err)
		}
		defer cli.Close()
		files, err := cli.Dump(ctx, *dbName)
		if err != nil {
			fail("dump %s from %s: %v", *dbName, args[1], err)
		}
		for _, f := range files {
			if err := ioutil.WriteFile(filepath.Join(args[2], f.Name), f.Data, 0o644); err != nil {
				fail("dump: %v", err)
			}
		}
	case "tx", "query", "exec":
		for _, stmt := range args[1:] {
			for {
				t0 := time.Now()
				err := run(ctx, args[0], stmt)
				if err == nil {
					if *elapsed {
						fmt.Fprintf(os.Stderr, "elapsed %.6f\n", time.Since(t0).Seconds())
					}
					break
				}
				if !*retry || errors.Is(ctx.Err(), context.DeadlineExceeded) {
					fail("%s: %v", stmt, err)
				}
				time.Sleep(20 * time.Millisecond)
			}
		}
	default:
		fail("unknown command %q (leader, cluster, add, tx, query, exec, dump)", args[0])
	}
}
