/** Production shells: uWebSockets.js servers and the Redis subscription store around the pure core. */
export {};
