package readers

// UnitIntRange is IntRange restricted to unit u: the smallest and largest
// value of integer column name over that unit's rows, from the Parquet
// column statistics of that row group. ok is false in the cases of
// IntRange, and also for a u out of range and for a unit without rows or
// with only nulls in the column.
//
// (First a placeholder from the pipeline engineer; now the readers
// implementation, unitIntRange in unit.go.)
func (r *Reader) UnitIntRange(name string, u int) (min, max int64, ok bool) {
	return r.unitIntRange(name, u)
}
