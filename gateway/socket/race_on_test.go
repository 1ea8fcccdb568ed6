//go:build race

package socket

// raceDetector: the race detector makes everything several times slower.
const raceDetector = true
