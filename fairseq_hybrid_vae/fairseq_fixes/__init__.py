"""What the hybrid-vae-* commands change in fairseq's behaviour, each change with the upstream problem
it works around (patches.py lists them); importing the plugin applies none of them."""
