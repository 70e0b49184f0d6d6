package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/mixbatch/mixbatch/report"
)

func cmdPlot(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var c common
	fs := newFlags("plot", "plot --run OUT_DIR --bag KEY [--out FILE.png|FILE.svg] [--width PX] [--height PX]", stdout, stderr, &c)
	runDir := fs.String("run", "", "output folder (or object-store URL) of a finished run")
	bag := fs.String("bag", "", "key of the bag to plot, as text")
	out := fs.String("out", "", "image file, .png or .svg (default <bag>.png in the current folder)")
	width := fs.Int("width", report.DefaultWidth, "image width in pixels")
	height := fs.Int("height", report.DefaultHeight, "image height in pixels")
	if code := parse(fs, args, &c); code >= 0 {
		return code
	}
	log := c.logger(stderr)
	switch {
	case *runDir == "":
		log.Error("--run is required")
		return exitUsage
	case *bag == "":
		log.Error("--bag is required")
		return exitUsage
	case *width < 100 || *height < 100 || *width > 10000 || *height > 10000:
		log.Error("--width and --height must be between 100 and 10000 pixels")
		return exitUsage
	}
	if *out == "" {
		*out = report.DefaultPlotFile(*bag)
	}
	if _, err := report.FormatOf(*out); err != nil {
		log.Error("--out", "err", err)
		return exitUsage
	}
	start := time.Now()
	if err := report.PlotFile(ctx, *runDir, *bag, *out, report.PlotOptions{Width: *width, Height: *height}); err != nil {
		log.Error("plot failed", "err", err)
		return exitFailure
	}
	log.Info("plotted", "run", *runDir, "bag", *bag, "out", *out, "elapsed", time.Since(start).Round(time.Millisecond).String())
	fmt.Fprintf(stdout, "mixbatch: plotted bag %s of %s -> %s\n", *bag, *runDir, *out)
	return exitOK
}

func cmdReport(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var c common
	fs := newFlags("report", "report --run OUT_DIR [--out report.html] [--baseline OTHER_OUT_DIR] [--top N]", stdout, stderr, &c)
	runDir := fs.String("run", "", "output folder (or object-store URL) of a finished run")
	out := fs.String("out", "report.html", "HTML file to write")
	baseline := fs.String("baseline", "", "output folder of an earlier run to compare weights with, by bag key")
	top := fs.Int("top", report.DefaultTop, "with --baseline: how many of the bags that moved most to list")
	if code := parse(fs, args, &c); code >= 0 {
		return code
	}
	log := c.logger(stderr)
	switch {
	case *runDir == "":
		log.Error("--run is required")
		return exitUsage
	case *top < 1:
		log.Error("--top must be >= 1")
		return exitUsage
	}
	if err := report.CheckHTMLFile(*out); err != nil {
		log.Error("--out", "err", err)
		return exitUsage
	}
	start := time.Now()
	if err := report.WriteFile(ctx, *runDir, *out, report.Options{Baseline: *baseline, Top: *top}); err != nil {
		log.Error("report failed", "err", err)
		return exitFailure
	}
	log.Info("reported", "run", *runDir, "out", *out, "elapsed", time.Since(start).Round(time.Millisecond).String())
	fmt.Fprintf(stdout, "mixbatch: report of %s -> %s\n", *runDir, *out)
	return exitOK
}
