#!/usr/bin/bash
# Not a stand-in: the launcher of the real testssl.sh in its test image. Debian installs the
# script as /usr/bin/testssl; upstream's image (and Outpost's argv) call it testssl.sh.
exec /usr/bin/bash /usr/bin/testssl "$@"
