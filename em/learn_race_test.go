//go:build race

package em_test

// raceEnabled: the race detector slows the long golden comparisons
// tenfold, so they run on a subset of their bags.
const raceEnabled = true
