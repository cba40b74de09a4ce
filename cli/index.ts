/** The `stadium` command and the ink replay UI. */
export {};
