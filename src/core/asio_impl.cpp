// The one translation unit that compiles Asio and Beast (BOOST_*_SEPARATE_COMPILATION keeps builds fast).
#include <boost/asio/impl/src.hpp>
#include <boost/beast/src.hpp>
