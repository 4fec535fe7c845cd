package http

// each maps rows to their JSON form; an empty list stays a list ([] on the
// wire, never null).
func each[T, J any](rows []T, toJSON func(T) J) []J {
	out := make([]J, 0, len(rows))
	for _, r := range rows {
		out = append(out, toJSON(r))
	}
	return out
}
