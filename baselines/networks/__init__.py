"""Network architectures shared by detectors and generators (not registered themselves): the diffusers
U-Net of every diffusion model and the timm-encoder U-Net."""
