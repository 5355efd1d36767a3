#include "lmdm/FreedMemory.h"

#include <cstdlib>  // defines __GLIBC__ where the C library is glibc

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace lmdm {

void returnFreedMemory() {
#if defined(__GLIBC__)
  malloc_trim(0);  // also releases whole free pages inside the heap, not only its top
#endif
}

}  // namespace lmdm
