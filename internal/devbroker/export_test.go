package devbroker

// Exposed is exposed, for the tests.
var Exposed = exposed
