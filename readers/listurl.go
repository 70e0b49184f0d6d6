package readers

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"path"
	"strings"

	"github.com/mixbatch/mixbatch/store"
)

// listURL lists the data files an object URL names (see ListContext).
func listURL(ctx context.Context, p string) ([]File, error) {
	name := store.Redact(p)
	u, err := url.Parse(p)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	key := strings.TrimPrefix(u.Path, "/")
	if key != "" && !strings.HasSuffix(key, "/") {
		info, err := store.Stat(ctx, p)
		switch {
		case err == nil:
			format, ok := formatOf(key)
			if !ok {
				return nil, fmt.Errorf("%s: unsupported file extension %q (want %s)", name, path.Ext(key), extList())
			}
			return []File{{Path: p, Size: info.Size, Format: format}}, nil
		case !errors.Is(err, fs.ErrNotExist):
			return nil, err
		}
	}
	if strings.ContainsAny(key, "*[") {
		return globURL(ctx, p, u, key)
	}
	entries, err := store.List(ctx, p)
	if err != nil {
		return nil, err
	}
	if len(entries) == 0 {
		return nil, fmt.Errorf("%s: no such object or prefix", name)
	}
	var files []File
	for _, e := range entries {
		if f, ok := dataObject(e, strings.Split(e.Rel, "/")); ok {
			files = append(files, f)
		}
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("%s: prefix has no data files (%s)", name, extList())
	}
	return files, nil
}

// dataObject returns the File of a listed object whose key below a walked
// prefix has the segments walked, if none is hidden and its extension is
// a data file's.
func dataObject(e store.Entry, walked []string) (File, bool) {
	for _, s := range walked {
		if hidden(s) {
			return File{}, false
		}
	}
	format, ok := formatOf(e.Rel)
	if !ok {
		return File{}, false
	}
	return File{Path: e.Location, Size: e.Size, Format: format}, true
}

// globURL lists the data files of a URL whose key is a glob pattern: the
// objects below the pattern's fixed folder whose first segments match it.
// A match that is an object is taken if its name is not hidden and has a
// data file extension; a match that is a "folder" is walked.
func globURL(ctx context.Context, p string, u *url.URL, key string) ([]File, error) {
	name := store.Redact(p)
	fixed := ""
	if i := strings.LastIndex(key[:strings.IndexAny(key, "*[")], "/"); i >= 0 {
		fixed = key[:i]
	}
	pattern := strings.TrimPrefix(strings.TrimPrefix(key, fixed), "/")
	// A pattern ending in "/" matches folders only, as in a shell.
	dirsOnly := strings.HasSuffix(pattern, "/")
	pattern = strings.TrimRight(pattern, "/")
	if _, err := path.Match(pattern, ""); err != nil {
		return nil, fmt.Errorf("%s: bad glob pattern: %w", name, err)
	}
	base := *u
	base.Path, base.RawPath = "/"+fixed, ""
	entries, err := store.List(ctx, base.String())
	if err != nil {
		return nil, err
	}
	depth := strings.Count(pattern, "/") + 1
	var files []File
	matched := false
	for _, e := range entries {
		segs := strings.Split(e.Rel, "/")
		if len(segs) < depth {
			continue
		}
		if ok, _ := path.Match(pattern, strings.Join(segs[:depth], "/")); !ok {
			continue
		}
		matched = true
		if dirsOnly && len(segs) == depth {
			continue // an object, not a folder
		}
		if f, ok := dataObject(e, segs[depth-1:]); ok {
			files = append(files, f)
		}
	}
	switch {
	case !matched:
		return nil, fmt.Errorf("%s: glob matched nothing", name)
	case len(files) == 0:
		return nil, fmt.Errorf("%s: glob matched no data files (%s)", name, extList())
	}
	return files, nil
}
