package acreage

// SetStepsInline sets how many groups an upload measures the steps of in
// its own transaction, for one test, and returns what restores it.
func SetStepsInline(n int) (restore func()) {
	old := stepsInline
	stepsInline = n
	return func() { stepsInline = old }
}
