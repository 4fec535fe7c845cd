package migrations

import (
	"context"
	"database/sql"
	"fmt"
	"sort"
	"strings"
)

// DescribeSchema reads PostgreSQL's catalog and returns one sorted line per
// object of the schema: every table, column (type, nullability, default),
// enum (values in order), index (name, columns, unique), constraint and
// foreign key (columns, target, ON DELETE / ON UPDATE), plus any other
// relation, type, function or sequence that lives there. Two databases
// with equal descriptions are the same to Prisma. The conformance test
// compares public's description with the seed's schema.
func DescribeSchema(ctx context.Context, db *sql.DB, schema string) ([]string, error) {
	var lines []string
	add := func(q string, args ...any) error {
		rows, err := db.QueryContext(ctx, q, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var s string
			if err := rows.Scan(&s); err != nil {
				return err
			}
			lines = append(lines, s)
		}
		return rows.Err()
	}
	queries := []string{
		// Enums with their values in declaration order.
		`SELECT format('enum %I = %s', t.typname, string_agg(e.enumlabel, ',' ORDER BY e.enumsortorder))
		   FROM pg_type t JOIN pg_enum e ON e.enumtypid = t.oid JOIN pg_namespace n ON n.oid = t.typnamespace
		  WHERE n.nspname = $1 GROUP BY t.typname`,
		// Any other type that is not a table's row type or an array.
		`SELECT format('type %I kind %s', t.typname, t.typtype)
		   FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
		  WHERE n.nspname = $1 AND t.typtype NOT IN ('e') AND t.typrelid = 0 AND t.typelem = 0`,
		// Relations: tables, views, sequences (Prisma's ids have no sequence).
		`SELECT format('relation %I kind %s', c.relname, c.relkind)
		   FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		  WHERE n.nspname = $1 AND c.relkind NOT IN ('i', 'I')`,
		// Columns.
		`SELECT format('column %I.%I %s %s%s', c.relname, a.attname, format_type(a.atttypid, a.atttypmod),
		               CASE WHEN a.attnotnull THEN 'NOT NULL' ELSE 'NULL' END,
		               COALESCE(' DEFAULT ' || pg_get_expr(d.adbin, d.adrelid), ''))
		   FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
		   LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
		  WHERE n.nspname = $1 AND c.relkind = 'r' AND a.attnum > 0 AND NOT a.attisdropped`,
		// Indexes, by definition (name, table, columns, uniqueness, method).
		`SELECT format('index %s', pg_get_indexdef(i.indexrelid))
		   FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_namespace n ON n.oid = c.relnamespace
		  WHERE n.nspname = $1`,
		// Constraints, foreign keys with their actions included.
		`SELECT format('constraint %I on %I: %s', con.conname, c.relname, pg_get_constraintdef(con.oid))
		   FROM pg_constraint con JOIN pg_class c ON c.oid = con.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace
		  WHERE n.nspname = $1`,
		// Functions living in the schema.
		`SELECT format('function %I', p.proname)
		   FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = $1`,
	}
	for _, q := range queries {
		if err := add(q, schema); err != nil {
			return nil, fmt.Errorf("describe schema %s: %w", schema, err)
		}
	}
	sort.Strings(lines)
	return lines, nil
}

// DiffLines reports what is missing from got and what is extra in it,
// compared with want; empty when they agree.
func DiffLines(want, got []string) string {
	w := map[string]bool{}
	for _, l := range want {
		w[l] = true
	}
	g := map[string]bool{}
	for _, l := range got {
		g[l] = true
	}
	var b strings.Builder
	for _, l := range want {
		if !g[l] {
			fmt.Fprintf(&b, "missing: %s\n", l)
		}
	}
	for _, l := range got {
		if !w[l] {
			fmt.Fprintf(&b, "extra:   %s\n", l)
		}
	}
	return b.String()
}
