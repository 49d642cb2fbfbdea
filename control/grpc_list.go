package control

// listChunk is how many items one List response message carries: large
// enough that per-message overhead vanishes, small enough (well under the
// default 4 MiB message limit of clients) for any item.
const listChunk = 512

// list streams the items a listing yields in messages of at most chunk
// items: walk calls its argument for each item until it returns false;
// send sends one message of items. It returns the walk's error as a
// status, else the first send error.
func list[T any](chunk int, walk func(yield func(T) bool) error, send func([]T) error) error {
	var items []T
	var sendErr error
	err := walk(func(it T) bool {
		items = append(items, it)
		if len(items) == chunk {
			sendErr = send(items)
			items = nil
		}
		return sendErr == nil
	})
	switch {
	case err != nil:
		return toStatus(err)
	case sendErr != nil:
		return sendErr
	case len(items) > 0:
		return send(items)
	}
	return nil
}
