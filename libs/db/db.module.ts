import { Global, Inject, Module, type OnApplicationShutdown } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { AppConfig } from '#libs/config/index.js';
import { openDatabase, type Database } from './data-source.js';

export const DATABASE = Symbol('DATABASE');

class DatabaseCloser implements OnApplicationShutdown {
  constructor(@Inject(DATABASE) private readonly db: Database) {}
  async onApplicationShutdown(): Promise<void> {
    await this.db.close();
  }
}

@Global()
@Module({
  providers: [
    {
      provide: DATABASE,
      inject: [AppConfig],
      useFactory: (config: AppConfig) => openDatabase({ databaseUrl: config.process.databaseUrl, dataDir: config.process.dataDir }),
    },
    { provide: DataSource, inject: [DATABASE], useFactory: (db: Database) => db.dataSource },
    DatabaseCloser,
  ],
  exports: [DataSource, DATABASE],
})
export class DbModule {}
