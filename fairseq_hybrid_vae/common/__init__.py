"""What every layer of the plugin uses: its errors, option ranges, atomic writes and the supported stack."""
