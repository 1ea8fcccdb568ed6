//go:build race

package main

// raceDetector: this test binary runs under the race detector, which makes
// everything several times slower; latency bounds take that into account.
const raceDetector = true
