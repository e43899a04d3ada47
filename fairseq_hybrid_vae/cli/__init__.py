"""The commands: hybrid-vae-prepare, -eval, -latent, and fairseq's own commands with the plugin loaded."""
