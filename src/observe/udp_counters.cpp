#include "hopgate/observe/udp_counters.hpp"

namespace hopgate::observe {

UdpCounters& udp_counters() {
  static UdpCounters c;
  return c;
}

} // namespace hopgate::observe
