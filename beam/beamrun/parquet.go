package beamrun

import (
	"context"
	"fmt"
	"os"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/apache/arrow/go/v17/parquet/file"
	"github.com/apache/arrow/go/v17/parquet/pqarrow"

	"github.com/mixbatch/mixbatch/pipeline"
	"github.com/mixbatch/mixbatch/writers"
)

// readParquet reads a whole (small) Parquet file with pqarrow.
func readParquet(ctx context.Context, path string) (_ arrow.Table, err error) {
	pf, err := file.OpenParquetFile(path, false)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	defer func() {
		if cerr := pf.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("%s: %w", path, cerr)
		}
	}()
	fr, err := pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{}, memory.DefaultAllocator)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	tbl, err := fr.ReadTable(ctx)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return tbl, nil
}

// writeParquet writes one record to path, replacing it, as the local run
// writes its tables.
func writeParquet(path string, sc *arrow.Schema, rec arrow.Record, cfg *pipeline.Config) error {
	tmp := path + ".new"
	if err := writers.WriteFile(tmp, sc, []arrow.Record{rec}, cfg.Output.WriterOptions()); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}
