package beamrun

// Where the outputs go: the root module's Output (a local staging folder
// renamed into place, or a run prefix on an object store published by
// manifest.json and _SUCCESS) and package store, which the workers use to
// write their part files to the staging location, local or remote.

import (
	"context"
	"io"
	"log/slog"

	"github.com/mixbatch/mixbatch/pipeline"
	"github.com/mixbatch/mixbatch/store"
)

// createOutput starts the run's output at dir.
func createOutput(ctx context.Context, dir string, overwrite bool, log *slog.Logger) (*pipeline.Output, error) {
	return pipeline.CreateOutput(ctx, dir, overwrite, log)
}

// createFile creates (or replaces) the file or object at location.
func createFile(ctx context.Context, location string) (io.WriteCloser, error) {
	return store.Create(ctx, location)
}

// readFile reads the (small) file or object at location.
func readFile(ctx context.Context, location string) ([]byte, error) {
	return store.ReadFile(ctx, location)
}

// listFiles lists the files below the folder or prefix location, by their
// paths relative to it; a missing one has none.
func listFiles(ctx context.Context, location string) ([]string, error) {
	entries, err := store.List(ctx, location)
	if err != nil {
		return nil, err
	}
	names := make([]string, len(entries))
	for i, e := range entries {
		names[i] = e.Rel
	}
	return names, nil
}

// removeFile removes the file or object at location.
func removeFile(ctx context.Context, location string) error { return store.Remove(ctx, location) }

// removeAll removes location and everything below it.
func removeAll(ctx context.Context, location string) error { return store.RemoveAll(ctx, location) }

// joinLocation joins a location and relative names.
func joinLocation(base string, names ...string) string { return store.Join(base, names...) }
