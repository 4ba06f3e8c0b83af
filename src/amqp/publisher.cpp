#include "amqp/publisher.hpp"
