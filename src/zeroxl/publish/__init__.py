"""The publisher's side: feed files made and edited, implementations packed, feeds signed, checked and
mirrored, all in 0install's formats (docs/publishing.md)."""
