package conf

import (
	"os"
	"runtime/debug"
	"testing"
)

func TestTuneGCUnlessGOGCIsSet(t *testing.T) {
	restore := debug.SetGCPercent(100)
	defer debug.SetGCPercent(restore)

	t.Setenv("GOGC", "150")
	TuneGC()
	if got := debug.SetGCPercent(100); got != 100 {
		t.Fatalf("GOGC set: TuneGC changed the GC percent to %d", got)
	}

	os.Unsetenv("GOGC") // t.Setenv restores it afterwards
	TuneGC()
	if got := debug.SetGCPercent(100); got != DefaultGCPercent {
		t.Fatalf("GOGC unset: GC percent is %d, want %d", got, DefaultGCPercent)
	}
}
