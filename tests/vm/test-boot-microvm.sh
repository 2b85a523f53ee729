#!/bin/bash
# The same end-to-end run on `microvm,ioapic2=off` (virtio-mmio devices, no PCI).
MACHINE=microvm exec bash "$(dirname "$0")/test-boot.sh"
