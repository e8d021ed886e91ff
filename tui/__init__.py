"""djtui's Textual app: screens (one per file in ``screens/``) over reusable widgets
(``widgets/``), styled by ``.tcss`` files and the themes in :mod:`djtui.themes`.

The TUI is a face on the core: it subscribes to pipeline events and calls the core's
public functions; it holds no pipeline logic of its own."""
