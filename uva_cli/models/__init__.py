"""Networks: CA-Res blocks, the UVA-Net students (and teachers), and the weights registry."""
