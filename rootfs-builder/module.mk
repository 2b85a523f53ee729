# rootfs-builder: filled in by the work in progress
