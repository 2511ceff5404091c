package sse

// Event is one event dispatched by a Reader.
type Event struct {
	// Type is the event type: the last "event" field of the block, or
	// "message" when there was none or it was empty.
	Type string
	// ID is the last event id in force after this event, as a browser's
	// lastEventId: ids persist from block to block until the server sends
	// another "id" field.
	ID string
	// Data is the block's "data" values joined with LF.
	Data string
	// Retry is the last valid "retry" value in this event's block, or -1 if
	// there was none. Reader.Retry keeps the value across blocks.
	Retry int
}
