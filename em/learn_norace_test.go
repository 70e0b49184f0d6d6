//go:build !race

package em_test

const raceEnabled = false
