package acreage

// SetStepsInline sets how many groups an upload measures the steps of in
// its own transaction, for one test, and returns what restores it.
func SetStepsInline(n int) (restore func()) {
	old := stepsInline
	stepsInline = n
	return func() { stepsInline = old }
}

// SetBeforeLock has f run once, as the next upload is about to lock its
// districts (Upload.Lock), for one test, and returns what restores it.
// Uploads that f makes lock as usual.
func SetBeforeLock(f func()) (restore func()) {
	beforeLock = func() {
		beforeLock = nil
		f()
	}
	return func() { beforeLock = nil }
}
