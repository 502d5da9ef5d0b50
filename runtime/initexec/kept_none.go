//go:build !den_initbin

package initexec

// initBlobSum is empty in a den built without den-init: there is none to keep.
const initBlobSum = ""
