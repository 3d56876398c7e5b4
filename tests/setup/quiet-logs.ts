process.env.LOG_LEVEL ??= 'warn';
