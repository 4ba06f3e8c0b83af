#include "amqp/consumer.hpp"
