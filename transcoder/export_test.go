package transcoder

// IsReflectionPath exposes isReflectionPath to the external tests.
var IsReflectionPath = isReflectionPath
